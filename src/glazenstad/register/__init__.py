"""The register: processing activities, data, algorithms and sensors as versioned policy data."""
