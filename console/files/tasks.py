from celery import shared_task

from console.files.services import delete_expired_files


@shared_task(acks_late=True, ignore_result=True)
def purge_expired_files() -> int:
    return delete_expired_files()
