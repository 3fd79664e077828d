"""SMS through Twilio: the input channel (channel.py, `channels.sms.channel.SmsInput`
in credentials.yml, POST /webhooks/twilio/webhook) and its parts, one module per
job. What a webhook request goes through, and why: README.md in this folder.
"""
