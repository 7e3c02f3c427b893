"""sms_gateway."""
