"""The sample environment, its secrets public: copy it with `dockerable/run newenv NAME`, never by hand."""
