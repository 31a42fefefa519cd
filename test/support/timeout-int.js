// Integration tests talk to PostgreSQL and S3: allow a minute.
jest.setTimeout(60000);
