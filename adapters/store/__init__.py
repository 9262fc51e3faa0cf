"""The stores: one backend folder per store (sqlite/, postgres/) over shared SQL (sql/)."""
