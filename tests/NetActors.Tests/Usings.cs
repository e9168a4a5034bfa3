global using Xunit;
global using NetActors.Tests.Infrastructure;
