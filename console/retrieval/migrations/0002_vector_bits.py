from django.db import migrations

from console.retrieval.schema import install_vector_bits


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0001_initial")]

    # SQLite: the binary-quantized twin of each vector table, filled from it (see schema.py).
    operations = [migrations.RunPython(install_vector_bits, migrations.RunPython.noop)]
