"""The ``initbounds`` command modules: one per topic, each parses, calls one library function, renders."""
