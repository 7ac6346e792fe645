# `qodlab relay` in a container: a relay that carries every content type CAMARA providers send
# (smee.io refuses application/cloudevents+json, CAMARA QoD 0.10 and 1.x's), for a notebook that
# nothing on the internet can reach. Run it where the network can reach it, behind the platform's
# TLS-terminating proxy, then point notebooks at it: QODLAB_RELAY=https://relay.example.org
#
#   docker build -f deploy/relay.Dockerfile -t qodlab-relay .
#   docker run --rm -p 8080:8080 qodlab-relay
#
# The platform sets $PORT (Cloud Run, Render, Fly.io, Heroku and the like do); 8080 otherwise.
# FORWARDED_ALLOW_IPS=*: GET /new redirects to the scheme and host the proxy forwards
# (X-Forwarded-Proto/Host), whoever it is: a forged header misleads only the client that forged it.
# Name the proxy's addresses instead where they are known. tests/test_deploy.py runs this CMD.
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY qodlab ./qodlab
RUN pip install --no-cache-dir .
ENV PORT=8080 FORWARDED_ALLOW_IPS=*
EXPOSE 8080
USER nobody
CMD ["qodlab", "relay", "--host", "0.0.0.0"]
