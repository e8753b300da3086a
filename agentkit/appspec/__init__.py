"""The AppSpec file as the CodeDeploy agents read it."""
