"""Demo source systems of Gemeente Voorbeeldstad: synthetic data behind the gateway.

They stand in for the municipality's own source APIs ("data at the source"): a BRP-like person
lookup, parking rights by plate, Wmo and Jeugd case files, Participatiewet benefits and early
signals of payment arrears, all generated from a seed (see docs/sources.md). Only the command
line, the demo and the simulators import this package; see docs/adr/0008-demo-source-systems.md.
"""

from glazenstad.sources.app import DATASETS, create_sources_app, serve_sources, upstreams
from glazenstad.sources.identifiers import elfproef, normalize_kenteken
from glazenstad.sources.model import ZONE_CODES, ZONES, Controle, ParkingZone
from glazenstad.sources.parkeerrechten import InvalidControle, ParkingRights
from glazenstad.sources.synthetic import Population, generate, generate_parking

__all__ = [
    "DATASETS",
    "ZONES",
    "ZONE_CODES",
    "Controle",
    "InvalidControle",
    "ParkingRights",
    "ParkingZone",
    "Population",
    "create_sources_app",
    "elfproef",
    "generate",
    "generate_parking",
    "normalize_kenteken",
    "serve_sources",
    "upstreams",
]
