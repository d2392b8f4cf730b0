"""Data breaches (datalekken) and the reviews of break-the-glass decisions."""
