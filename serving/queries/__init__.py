"""Read-only queries on the serving store; keyword-only arguments, plain data back."""
