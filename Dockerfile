FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 VAR_DIR=/data
COPY pyproject.toml README.md ./
COPY console ./console
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --no-cache-dir -e . \
 && apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/* \
 && python -m console.sandbox.runtime /opt/sandbox-runtime
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && uvicorn console.asgi:application --host 0.0.0.0 --port 8000 --workers ${WEB_CONCURRENCY:-2}"]
