from django.core.management.base import BaseCommand, CommandParser

from console.projects.services import create_api_key, get_or_create_project


class Command(BaseCommand):
    help = "Create an API key for a project (created if needed). The key is printed alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--name", default="", help="A label for the key")

    def handle(self, *args: object, **options: str) -> None:
        project = get_or_create_project(options["project"])
        key, raw = create_api_key(project, name=options["name"])
        self.stdout.write(
            f"Created API key {key.redacted} for project '{project.name}'. It is shown only once:"
        )
        self.stdout.write(raw)
