"""Photos of cases: checked, stored by their SHA-256 in a blob store, thumbnailed once, and
copied without their location for whoever is not a party to the case."""
