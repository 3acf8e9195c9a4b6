/** Unit tests of the panel's pure logic (src/logic.ts): plain ts-jest, no JupyterLab modules loaded. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testRegex: 'src/__tests__/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', target: 'ES2020', esModuleInterop: true, types: ['jest'] }, diagnostics: true }]
  }
};
