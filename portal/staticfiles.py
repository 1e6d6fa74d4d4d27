"""Static files: hashed names and compression (WhiteNoise), and JS module imports rewritten to
the hashed names too, so a page's script and the modules it imports are cached and replaced
together (static/js/chat.js imports answer-stream.js)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
