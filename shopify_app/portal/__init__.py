"""The Customer Service Portal (D1-D8): find the person, explain every decision, act."""
