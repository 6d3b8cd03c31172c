"""Governance: who is Responsible, Accountable, Consulted and Informed for each activity."""
