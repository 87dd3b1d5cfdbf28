// Jest resolver: a relative `./x.js` import that has no .js file resolves to `./x.ts`.
// packages/client is ESM-ready source (Node's ESM needs the extension); nothing else changes.
module.exports = (request, options) => {
  try {
    return options.defaultResolver(request, options);
  } catch (error) {
    if (/^\.{1,2}\/.*\.js$/.test(request)) return options.defaultResolver(request.replace(/\.js$/, '.ts'), options);
    throw error;
  }
};
