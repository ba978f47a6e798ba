//! zab-scenarios: named scenarios over zab-sim (being built; see README "Not done yet").
