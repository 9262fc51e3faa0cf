"""The GraphQL API (Strawberry), served at ``/graphql`` by the same app and process as REST."""
