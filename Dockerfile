# Untested here (no Docker engine on the build machine); kept simple and conventional.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md chainlit.md ./
COPY .chainlit ./.chainlit
COPY core ./core
COPY accounts ./accounts
COPY billing ./billing
COPY telephony ./telephony
COPY tools ./tools
COPY chat_app ./chat_app
RUN pip install -c constraints.txt . \
    && useradd --create-home --uid 10001 klose \
    && mkdir -p /app/.data /app/.files && chown -R klose /app
USER klose
ENV CHAINLIT_APP_ROOT=/app DATA_DIR=/app/.data
EXPOSE 8000
CMD ["klosesales", "serve", "--host", "0.0.0.0", "--port", "8000"]
