"""The GraphQL API: Strawberry types, queries, mutations, subscriptions, context and loaders."""
