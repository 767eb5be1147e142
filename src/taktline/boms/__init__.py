"""Bills of material: versioned recipes and routings that generate work orders."""
