from django.db import migrations

from console.retrieval.schema import generated_search_vector, plain_search_vector


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0002_vector_bits")]

    # PostgreSQL: search_vector becomes a plain tsvector that index.py fills from shared pieces,
    # with triggers for every other writer; existing vectors and the GIN index stay (schema.py).
    # SQLite: nothing changes.
    operations = [migrations.RunPython(plain_search_vector, generated_search_vector)]
