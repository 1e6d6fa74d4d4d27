from django.db import migrations

# A frozen copy of the starting glossary: later edits to glossary.DEFAULT_GLOSSARY do not
# change what this migration did on existing installations.
from apps.knowledge.glossary import DEFAULT_GLOSSARY


def seed(apps, schema_editor):
    GlossaryEntry = apps.get_model("knowledge", "GlossaryEntry")
    if not GlossaryEntry.objects.exists():
        GlossaryEntry.objects.bulk_create(GlossaryEntry(terms=t) for t in DEFAULT_GLOSSARY)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
