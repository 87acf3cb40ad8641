"""Users, workspaces, roles and sign-in."""
