"""Search algorithms (random search, aging evolution, REINFORCE, binary predictor): not yet implemented."""
