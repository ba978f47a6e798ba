//! zoo.cfg parsing (being written).
