from django.db import migrations, models

from console.retrieval.schema import install_fulltext, remove_fulltext


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Chunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("vector_store_id", models.CharField(db_index=True, max_length=64)),
                ("file_id", models.CharField(db_index=True, max_length=64)),
                ("position", models.IntegerField()),
                ("text", models.TextField()),
                ("tokens", models.IntegerField()),
                ("attributes", models.JSONField(default=dict)),
                ("filename", models.CharField(max_length=512)),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["vector_store_id", "file_id", "position"], name="retrieval_chunk_file"
                    )
                ],
            },
        ),
        # Vendor-specific full-text index (FTS5 + triggers, or tsvector + GIN); see schema.py.
        migrations.RunPython(install_fulltext, remove_fulltext),
    ]
