"""直接出品を実行: list a batch item by item through the store's create form."""
