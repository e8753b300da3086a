"""The simulated CodeDeploy agent: its deployment root, installer and lifecycle."""
