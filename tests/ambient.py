"""Where the AWS SDK would find the developer's own credentials, or ask the instance metadata
address (never a test's target): nowhere, in every test and every process a test starts."""

NO_AMBIENT_AWS = {
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_EC2_METADATA_DISABLED": "true",
}
