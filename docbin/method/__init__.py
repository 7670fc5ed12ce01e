"""The algorithm, one module per step: edges and page statistics (measure), the decision
surface (decide), the local median and mean and the rule (threshold), and the learned steps
beside them."""
