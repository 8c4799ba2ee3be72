__title__ = "hybrid-ner"
__version__ = "0.1.0"
