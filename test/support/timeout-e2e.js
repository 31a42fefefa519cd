// e2e tests run real servers and the go command: minutes, not seconds.
jest.setTimeout(300000);
