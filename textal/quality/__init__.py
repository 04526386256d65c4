"""Label quality: suspect labels (confident learning + labeled neighbours), annotator agreement,
and label noise for simulations. Sits between the model and the round layers."""
