"""What crosses the HTTP boundary: request bodies and answers, for jobs and for workers."""
