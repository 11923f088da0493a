"""Who may use the admin: admin users and the password rule (`users`), their sessions (`sessions`), named API
tokens (`tokens`) and who did what (`audit`)."""
