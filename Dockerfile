# textal for a team: `docker compose up -d` (see docker-compose.yml and the README's "Serving a
# team"). The workspace lives on a volume at /workspace; the image holds no customer data.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 textal
WORKDIR /opt/textal
COPY pyproject.toml README.md ./
COPY textal ./textal
# torch is pinned so pip takes one build instead of resolving several.
RUN pip install --no-cache-dir torch==2.13.0 && pip install --no-cache-dir .
USER textal
ENV TEXTAL_WORKSPACE=/workspace
EXPOSE 8000
CMD ["textal", "serve", "--workspace", "/workspace", "--host", "0.0.0.0", "--port", "8000"]
