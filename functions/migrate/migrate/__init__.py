"""labfolio migrate: the CloudFormation custom resource that runs the database migrations on deploy."""
