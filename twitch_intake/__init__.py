"""twitch-intake: a patient's pre-visit intake about muscle twitching, for Django sites."""
