"""Orthanc integration: pull mode (poll /changes) and admin commands, via orthanc-api-client."""
