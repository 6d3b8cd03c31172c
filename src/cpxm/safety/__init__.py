"""The patient-safety net: safety cases in the PV queue, their clock, escalation and exports."""
