"""Search: from a question to a grounded answer. sparse builds the BM25 vectors, glossary
expands Russian terms, retrieval runs the permission-aware hybrid search, prompting builds the
grounded prompt, answering streams the cited answer, documents shows a cited document."""
