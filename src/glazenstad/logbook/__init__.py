"""The logbook of processing (Logboek Dataverwerkingen)."""
