"""ClinicalTrials.gov over HTTP: the client, its errors and the cycle planner."""
