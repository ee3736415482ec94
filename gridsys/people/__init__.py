"""People: accounts, roles, duties, assignments, authentication and scoped access."""
