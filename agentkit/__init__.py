"""agentkit: lint, verify and deploy-time hooks for AWS CodeDeploy EC2/on-premises bundles."""

__version__ = "0.1.0"
