//! zab-sim: the seeded world that drives zab-core nodes (being built; see README "Not done yet").
